// Server-sent events, read off a fetch body: yields each event's data (its data: lines joined by "\n").
// Only what our server sends needs to work, but the framing follows the spec so a proxy's rewrapping
// (CRLF line ends, comments, chunk boundaries anywhere) does not break it.

export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // Dispatch complete lines; a partial last line waits for the next chunk.
      let end: number;
      while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk to tell.
        if (!done && end === buffer.length - 1 && buffer[end] === "\r") break;
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield data.join("\n");
          data = [];
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
        // Other fields (event:, id:, retry:) and comments (":") carry nothing we use.
      }
      if (done) break;
    }
    if (buffer.startsWith("data:")) data.push(buffer.slice(buffer.startsWith("data: ") ? 6 : 5));
    if (data.length > 0) yield data.join("\n");
    finished = true;
  } finally {
    // Stopped early (the caller broke out, or an error): closing the body tells the server to stop the run.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
