// The app under test: either an already deployed one (E2E_BASE_URL: nothing
// is built or started) or a fresh local stack: the real backend with its own
// SQLite database plus the freshly built standalone frontend, both on free
// loopback ports.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, startProcess, waitForHttp } from "./processes.mjs";

const FRONTEND_DIR = resolve(import.meta.dirname, "..");
const BACKEND_DIR = resolve(FRONTEND_DIR, "../backend");
const STANDALONE_SERVER = join(FRONTEND_DIR, ".next/standalone/server.js");

function backendPython() {
  const python = join(BACKEND_DIR, ".venv/bin/python");
  if (!existsSync(python)) {
    throw new Error(`${python} is missing: create the backend's virtualenv first (see backend/README.md)`);
  }
  return python;
}

/** The backend as its container runs it (python -m app.serve), configured for a bare local run. */
function startBackend(port, env, logFile) {
  const handle = startProcess("backend", backendPython(), ["-m", "app.serve"], {
    cwd: BACKEND_DIR,
    env: { ...env, PORT: String(port) },
    logFile,
  });
  return { handle, ready: waitForHttp(`http://127.0.0.1:${port}/ready`, { process: handle }) };
}

/** The test runs what ships: a fresh production build, unless E2E_SKIP_BUILD=1 reuses the last one. */
function buildFrontend() {
  if (process.env.E2E_SKIP_BUILD === "1" && existsSync(STANDALONE_SERVER)) return;
  const result = spawnSync("npm", ["run", "build"], { cwd: FRONTEND_DIR, stdio: "inherit" });
  if (result.status !== 0) throw new Error("npm run build failed");
}

function startFrontend(port, backendUrl, logFile) {
  const handle = startProcess("frontend", process.execPath, [STANDALONE_SERVER], {
    cwd: join(FRONTEND_DIR, ".next/standalone"),
    env: { PORT: String(port), HOSTNAME: "127.0.0.1", BACKEND_URL: backendUrl, NEXT_TELEMETRY_DISABLED: "1" },
    logFile,
  });
  return { handle, ready: waitForHttp(`http://127.0.0.1:${port}/api/healthz`, { process: handle }) };
}

/**
 * Returns { baseUrl, jwtSecret, backend: { stop, start } | null, stop }.
 * `backend` is null against a deployed app: outage tests need to own it.
 */
export async function startStack(artifactsDir) {
  if (process.env.E2E_BASE_URL) {
    return { baseUrl: process.env.E2E_BASE_URL.replace(/\/+$/, ""), jwtSecret: null, backend: null, stop: async () => {} };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "todo-e2e-"));
  const jwtSecret = randomBytes(32).toString("hex");
  const backendEnv = {
    DATABASE_URL: `sqlite:///${join(dataDir, "todo.sqlite3")}`,
    JWT_SECRET: jwtSecret,
    // The chat must use the built-in parser, never a model configured in this shell.
    OPENAI_API_KEY: "",
    OPENAI_BASE_URL: "",
  };
  buildFrontend();
  const [backendPort, frontendPort] = [await freePort(), await freePort()];
  const backendLog = join(artifactsDir, "backend.log");
  let backend = startBackend(backendPort, backendEnv, backendLog);
  const frontend = startFrontend(frontendPort, `http://127.0.0.1:${backendPort}`, join(artifactsDir, "frontend.log"));
  const stop = async () => {
    await Promise.all([backend.handle.stop(), frontend.handle.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await Promise.all([backend.ready, frontend.ready]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl: `http://127.0.0.1:${frontendPort}`,
    jwtSecret,
    backend: {
      stop: () => backend.handle.stop(),
      // Same port and database: a restart, as after a crash or a rollout.
      start: async () => {
        backend = startBackend(backendPort, backendEnv, backendLog);
        await backend.ready;
      },
    },
    stop,
  };
}
