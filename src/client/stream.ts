// A streamed chat completion: iterate it for the text as it arrives; `final` then holds the whole answer with
// its usage and cost (the server's usage chunk). Nothing is sent until the iteration starts.
import { APIError, ConnectionError, makeError } from "./errors.ts";
import { sseData } from "./sse.ts";
import type { ChatUsage, Completion, FinishReason } from "./types.ts";

/** An open response, and how to turn an error met while reading its body into one of ours. */
export interface Opened {
  response: Response;
  fail(error: unknown): unknown;
}

interface ChunkWire {
  id?: string;
  model?: string;
  choices?: { delta?: { content?: string }; finish_reason?: FinishReason | null }[];
  usage?: ChatUsage;
  cost?: number;
  error?: { type?: string; message?: string; code?: string; param?: string };
}

export class ChatStream implements AsyncIterable<string> {
  /**
   * Settles when the iteration ends: the whole answer with usage and cost, or the error the iteration threw
   * (also when the caller stops early). It never settles if the stream is never iterated.
   */
  readonly final: Promise<Completion>;
  #resolve!: (completion: Completion) => void;
  #reject!: (error: unknown) => void;
  #iterated = false;

  constructor(private readonly open: () => Promise<Opened>) {
    this.final = new Promise<Completion>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A caller that only iterates sees the error there; it must not also surface as an unhandled rejection.
    this.final.catch(() => {});
  }

  [Symbol.asyncIterator](): AsyncGenerator<string, void, undefined> {
    // One HTTP response behind it: a second reader would silently see nothing.
    if (this.#iterated) throw new Error("A ChatStream can be iterated only once");
    this.#iterated = true;
    return this.#tokens();
  }

  async *#tokens(): AsyncGenerator<string, void, undefined> {
    let opened: Opened | undefined;
    let settled = false;
    const parts: string[] = [];
    let id = "";
    let model = "";
    let finishReason: FinishReason | undefined;
    let usage: ChatUsage | undefined;
    let cost: number | undefined;
    try {
      opened = await this.open();
      const { response } = opened;
      const requestId = response.headers.get("x-request-id") ?? undefined;
      if (!response.body) throw new ConnectionError("The server answered the stream request without a body", { status: response.status, requestId });
      let ended = false;
      for await (const data of sseData(response.body)) {
        if (data === "[DONE]") {
          ended = true;
          break;
        }
        let chunk: ChunkWire;
        try {
          chunk = JSON.parse(data) as ChunkWire;
        } catch {
          throw new APIError(`The server sent a stream event that is not JSON: ${data.slice(0, 200)}`, { status: response.status, requestId, body: data });
        }
        // An error after the first token arrives in the stream (the 200 is already sent): no status of its own.
        if (chunk.error) throw makeError(chunk.error, { requestId, body: chunk, headers: response.headers });
        id ||= chunk.id ?? "";
        model ||= chunk.model ?? "";
        if (chunk.usage) {
          usage = chunk.usage;
          cost = chunk.cost;
        }
        const choice = chunk.choices?.[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const text = choice?.delta?.content;
        if (text) {
          parts.push(text);
          yield text;
        }
      }
      if (!ended) throw new ConnectionError("The stream ended before data: [DONE] (the connection was cut)", { status: response.status, requestId });
      if (!usage || cost === undefined) throw new APIError("The stream ended without its usage chunk", { status: response.status, requestId });
      settled = true;
      this.#resolve({ id, content: parts.join(""), model, finishReason: finishReason ?? "stop", usage, cost });
    } catch (error) {
      const ours = opened ? opened.fail(error) : error;
      settled = true;
      this.#reject(ours);
      throw ours;
    } finally {
      // The caller broke out of the loop: the body is already cancelled (the server stops the run).
      if (!settled) this.#reject(new Error("The stream was closed before it finished"));
    }
  }
}
