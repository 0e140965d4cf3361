"""Federation PKI: a federation CA and one mutual-TLS certificate per node (FGMV-43 GPIR-003).

Nothing here is committed as key material: ``mmmfed certs init DIR`` and the test fixtures make
throwaway keys at run time.
"""

from certs.authority import NodeRole, issue_node, make_ca, write_federation

__all__ = ["NodeRole", "issue_node", "make_ca", "write_federation"]
