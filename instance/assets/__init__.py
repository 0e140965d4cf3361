"""Assets of an M-Instance and their migration (FGMV-43 9.2): the ledger (owner of record,
Wallets, journal), the offer content both sides compute alike, and the transfer roles."""
