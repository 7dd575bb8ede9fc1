// What the connection-status line says about a ProgressClient.

/** @returns {{kind: "stable"|"reconnecting"|"polling"|"connecting"|"offline", text: string}} */
export function connectionText(client) {
  if (client.polling) {
    const seconds = (client.pollIntervalMs ?? 1000) / 1000;
    if (client.pollFailing) {
      return { kind: "offline", text: `Cannot reach the agent: trying again every ${seconds} s` };
    }
    return {
      kind: "polling",
      text: `Live stream unavailable: checking every ${seconds} s`,
    };
  }
  switch (client.state) {
    case "connected":
      return { kind: "stable", text: "Live: connected to the agent" };
    case "reconnecting":
      if (!client.everConnected) {
        // Nothing was ever connected, so nothing was lost.
        return { kind: "connecting", text: "Connecting to the agent..." };
      }
      return {
        kind: "reconnecting",
        text: client.failures
          ? `Connection lost: reconnecting (attempt ${client.failures + 1})...`
          : "Connection lost: reconnecting...",
      };
    case "disconnected":
      return { kind: "offline", text: "Not connected" };
    default:
      return { kind: "connecting", text: "Connecting to the agent..." };
  }
}
