"""Contents of the M-Instance (ITU FGMV-43 9.3, COIFC): published by an Author Process Action in
the World (:mod:`.service`), their Items and parts kept in the M-Instance's one database
(:mod:`.store`)."""
