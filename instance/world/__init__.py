"""The MMM-TEC World of the reference M-Instance: its data types, Process Action engine, Actions and Activity Data.

No gRPC and no storage here: :mod:`instance.world.model` holds the data types and
:mod:`instance.world.engine` decides the PA Status of a Process Action Request.
"""
