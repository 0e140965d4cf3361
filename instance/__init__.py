"""The reference M-Instance (MPAI MMM-TEC): Processes, Items and their avatars.

It talks to the rest of the federation only over the wire contract (``mmmfed.api.v1``).
"""
