"""calfload's live dashboard: MQTT steps and summaries pushed to browsers over a WebSocket."""
