// Reading a Server-Sent Events body from fetch().
//
// The progress client reads streams with fetch rather than EventSource because
// EventSource hides what the client needs: `: ping` heartbeat comments (the only
// sign of life on a quiet stream), the HTTP status (204 means "finished, do not
// come back"), and it cannot send Last-Event-ID on a reconnect it schedules itself.

/**
 * Parse an SSE byte stream until it ends.
 * @param {ReadableStream<Uint8Array>} body
 * @param {{onEvent: (msg: {id: string|null, type: string, data: string}) => void,
 *          onActivity?: () => void, onRetry?: (ms: number) => void}} handlers
 */
export async function readEventStream(body, { onEvent, onActivity = () => {}, onRetry = () => {} }) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let data = [];
  let type = "";
  let lastId = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += value;
      const lines = buffer.split("\n");
      buffer = lines.pop();
      for (const raw of lines) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        if (line === "") {
          if (data.length) onEvent({ id: lastId, type: type || "message", data: data.join("\n") });
          data = [];
          type = "";
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: the heartbeat
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "data") data.push(text);
        else if (field === "event") type = text;
        else if (field === "id" && !text.includes("\0")) lastId = text;
        else if (field === "retry" && /^\d+$/.test(text)) onRetry(Number(text));
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
