"""Virtual radio: bumble GATT peripherals on an in-process link, reached through bleak.

Nothing here is a mock of the bridge: the bridge talks to ``bleak.BleakClient`` as it
does with real sensors; only the radio underneath is simulated.
"""
