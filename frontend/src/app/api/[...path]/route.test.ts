import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { startFakeBackend, unusedPort, useFakeBackend } from "@/test/fakeBackend";
import { DELETE, GET, PATCH, POST } from "./route";

const backend = useFakeBackend();

function browserRequest(path: string, init: { method?: string; body?: string; cookie?: string; headers?: Record<string, string> } = {}) {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("cookie", init.cookie);
  if (init.body) headers.set("content-type", "application/json");
  return new NextRequest(`http://localhost:3000${path}`, { method: init.method ?? "GET", body: init.body, headers });
}

describe("the /api proxy", () => {
  it("forwards path and query, and turns the session cookie into a Bearer token", async () => {
    backend.reply({ status: 200, body: [{ id: 1 }] });
    const response = await GET(browserRequest("/api/tasks?done=false&sort=-priority", { cookie: "todo_session=tok123; other=x" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ id: 1 }]);
    const [seen] = backend.requests;
    expect(seen).toMatchObject({ method: "GET", url: "/api/tasks?done=false&sort=-priority" });
    expect(seen?.headers.authorization).toBe("Bearer tok123");
    // Cookies belong to the browser session with this server, not to the backend.
    expect(seen?.headers.cookie).toBeUndefined();
  });

  it("reads BACKEND_URL at request time, not at build time", async () => {
    const other = await startFakeBackend();
    try {
      process.env.BACKEND_URL = `${other.url}/`;
      await GET(browserRequest("/api/auth/me"));
      expect(other.requests.map((request) => request.url)).toEqual(["/api/auth/me"]);
      expect(backend.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it("passes JSON bodies and the request id through", async () => {
    backend.reply({ status: 201, body: { id: 9 }, headers: { "x-request-id": "req-1" } });
    const response = await POST(
      browserRequest("/api/tasks", { method: "POST", body: '{"title":"Buy milk"}', cookie: "todo_session=t", headers: { "x-request-id": "req-1" } }),
    );
    expect(response.status).toBe(201);
    expect(response.headers.get("x-request-id")).toBe("req-1");
    const [seen] = backend.requests;
    expect(seen).toMatchObject({ method: "POST", body: '{"title":"Buy milk"}' });
    expect(seen?.headers["content-type"]).toBe("application/json");
    expect(seen?.headers["x-request-id"]).toBe("req-1");
  });

  it("relays PATCH and an empty 204 from DELETE", async () => {
    backend.reply({ status: 200, body: { id: 4, done: true } });
    const patched = await PATCH(browserRequest("/api/tasks/4", { method: "PATCH", body: '{"done":true}' }));
    expect(await patched.json()).toEqual({ id: 4, done: true });
    backend.reply({ status: 204 });
    const deleted = await DELETE(browserRequest("/api/tasks/4", { method: "DELETE" }));
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe("");
    expect(backend.requests.map((request) => `${request.method} ${request.url}`)).toEqual(["PATCH /api/tasks/4", "DELETE /api/tasks/4"]);
  });

  it("relays validation errors untouched", async () => {
    const body = { detail: "Request validation failed", code: "validation_error", errors: [{ field: "title", location: "body", message: "too long" }] };
    backend.reply({ status: 422, body });
    const response = await POST(browserRequest("/api/tasks", { method: "POST", body: "{}" }));
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual(body);
  });

  it("clears the session cookie when the backend rejects the token", async () => {
    backend.reply({ status: 401, body: { detail: "Not authenticated", code: "not_authenticated" }, headers: { "www-authenticate": "Bearer" } });
    const response = await GET(browserRequest("/api/tasks", { cookie: "todo_session=expired" }));
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe("Bearer");
    expect(response.headers.get("set-cookie")).toMatch(/todo_session=;.*Max-Age=0/i);
  });

  it("sends a GET once more when its connection is reset before any answer (a backend pod stopping)", async () => {
    backend.reply({ status: 200, body: [{ id: 1 }] });
    backend.resetNext(1);
    const response = await GET(browserRequest("/api/tasks", { cookie: "todo_session=t" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ id: 1 }]);
    expect(backend.requests.map((request) => `${request.method} ${request.url}`)).toEqual(["GET /api/tasks", "GET /api/tasks"]);
  });

  it("never repeats a request that may have changed something, and a second reset is a 502", async () => {
    backend.resetNext(1);
    const posted = await POST(browserRequest("/api/tasks", { method: "POST", body: '{"title":"once"}' }));
    expect(posted.status).toBe(502);
    expect(backend.requests.map((request) => request.method)).toEqual(["POST"]);
    backend.requests.length = 0;
    backend.resetNext(2);
    const listed = await GET(browserRequest("/api/tasks"));
    expect(listed.status).toBe(502);
    expect(await listed.json()).toEqual({ detail: "The Todo service is unreachable.", code: "backend_unavailable" });
    expect(backend.requests).toHaveLength(2);
  });

  it("answers 502 in the backend's error shape when the backend is down", async () => {
    process.env.BACKEND_URL = `http://127.0.0.1:${await unusedPort()}`;
    const response = await GET(browserRequest("/api/tasks", { cookie: "todo_session=t" }));
    expect(response.status).toBe(502);
    expect(await response.json()).toEqual({ detail: "The Todo service is unreachable.", code: "backend_unavailable" });
  });
});
