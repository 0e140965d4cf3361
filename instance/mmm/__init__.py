"""MMM-TEC V2.2 Process Action evaluation: Processes, Rights, Profiles and PA Status as plain classes.

No gRPC and no storage here: :mod:`instance.mmm.model` holds the data types and
:mod:`instance.mmm.engine` decides the PA Status of a Process Action Request.
"""
