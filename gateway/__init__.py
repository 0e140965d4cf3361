"""The Resolution gateway (ITU FGMV-43 MIFM), one per M-Instance: manifestos and their
negotiation (IMFC/MPMF, MBMF), avatar transfer (AVIFC), over RI and RE reference points.

It talks to its instance, to peer gateways and to bridges only over the wire contract.
"""
