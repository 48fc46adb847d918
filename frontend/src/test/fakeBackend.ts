/**
 * A real HTTP server on 127.0.0.1 standing in for the backend, so route tests
 * exercise the actual fetch, headers and bodies instead of a mocked fetch.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, beforeEach } from "vitest";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeBackend {
  url: string;
  requests: RecordedRequest[];
  reply: (next: Reply) => void;
  /** The next `count` requests get no answer: their connection is reset (a backend pod going away). */
  resetNext: (count: number) => void;
  close: () => Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startFakeBackend(): Promise<FakeBackend> {
  const requests: RecordedRequest[] = [];
  let nextReply: Reply = { status: 200, body: {} };
  let resets = 0;
  const server: Server = createServer(async (request, response) => {
    requests.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: await readBody(request) });
    if (resets > 0) {
      resets -= 1;
      request.socket.resetAndDestroy();
      return;
    }
    const hasBody = nextReply.body !== undefined;
    response.writeHead(nextReply.status, {
      ...(hasBody ? { "content-type": "application/json" } : {}),
      ...nextReply.headers,
    });
    response.end(hasBody ? JSON.stringify(nextReply.body) : undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply: (next) => {
      nextReply = next;
    },
    resetNext: (count) => {
      resets = count;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on: bind one, then let it go. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * One fake backend for a test file: started before its tests, its request log
 * cleared and BACKEND_URL pointed at it before each, closed after them all.
 */
export function useFakeBackend(): FakeBackend {
  let current: FakeBackend | undefined;
  beforeAll(async () => {
    current = await startFakeBackend();
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => {
    current!.requests.length = 0;
    process.env.BACKEND_URL = current!.url;
  });
  // The server only exists once beforeAll ran; the tests read it through this view.
  return new Proxy({} as FakeBackend, { get: (_target, key) => Reflect.get(current!, key) });
}
