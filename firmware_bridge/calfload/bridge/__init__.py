"""BLE → MQTT bridge: device drivers, virtual twins, link loop, time base and publisher."""
