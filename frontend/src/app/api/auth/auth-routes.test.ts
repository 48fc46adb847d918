import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { unusedPort, useFakeBackend } from "@/test/fakeBackend";
import { GET as healthz } from "../healthz/route";
import { POST as login } from "./login/route";
import { POST as logout } from "./logout/route";

const backend = useFakeBackend();

function loginRequest(origin = "http://localhost:3000", headers: Record<string, string> = {}) {
  return new NextRequest(`${origin}/api/auth/login`, {
    method: "POST",
    body: JSON.stringify({ email: "ada@example.com", password: "correct horse" }),
    headers: { "content-type": "application/json", ...headers },
  });
}

describe("POST /api/auth/login", () => {
  it("keeps the token in an httpOnly cookie and never returns it", async () => {
    backend.reply({ status: 200, body: { access_token: "jwt-abc", token_type: "bearer", expires_in: 1800 } });
    const response = await login(loginRequest());
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toBe('{"ok":true}');
    const cookie = response.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^todo_session=jwt-abc;/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=lax/i);
    expect(cookie).toMatch(/Max-Age=1800/i);
    expect(cookie).not.toMatch(/Secure/i);
    expect(backend.requests[0]).toMatchObject({ method: "POST", url: "/api/auth/login", body: '{"email":"ada@example.com","password":"correct horse"}' });
  });

  it("marks the cookie Secure behind a TLS-terminating proxy", async () => {
    backend.reply({ status: 200, body: { access_token: "jwt", token_type: "bearer" } });
    const response = await login(loginRequest("http://localhost:3000", { "x-forwarded-proto": "https" }));
    expect(response.headers.get("set-cookie")).toMatch(/Secure/i);
  });

  it("relays wrong credentials without setting a cookie", async () => {
    backend.reply({ status: 401, body: { detail: "Invalid email or password", code: "invalid_credentials" } });
    const response = await login(loginRequest());
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ code: "invalid_credentials" });
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("says the backend is unavailable when it is down", async () => {
    process.env.BACKEND_URL = `http://127.0.0.1:${await unusedPort()}`;
    const response = await login(loginRequest());
    expect(response.status).toBe(502);
    expect(await response.json()).toMatchObject({ code: "backend_unavailable" });
  });
});

describe("POST /api/auth/logout", () => {
  it("expires the session cookie", async () => {
    const response = logout();
    expect(response.status).toBe(204);
    expect(response.headers.get("set-cookie")).toMatch(/todo_session=;.*Max-Age=0/i);
  });
});

describe("GET /api/healthz", () => {
  it("answers without calling the backend, even when it is down", async () => {
    process.env.BACKEND_URL = `http://127.0.0.1:${await unusedPort()}`;
    const response = healthz();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
    expect(backend.requests).toHaveLength(0);
  });
});
