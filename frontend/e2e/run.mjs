// End-to-end test in a real browser: the whole user journey plus the bad
// input cases, with a screenshot of each key screen in test-artifacts/.
//
//   npm run test:e2e                      builds, starts backend + frontend, tests, stops them
//   E2E_SKIP_BUILD=1 npm run test:e2e     the same with the last build
//   E2E_BASE_URL=http://127.0.0.1:8080 npm run test:e2e   tests an app that is already running
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import { launchBrowser } from "./browser.mjs";
import { startStack } from "./stack.mjs";
import { expiredToken } from "./tokens.mjs";

const ARTIFACTS = resolve(import.meta.dirname, "../test-artifacts");
const TIMEOUT_MS = 15_000;
const SESSION_COOKIE = "todo_session";

function isoDay(offsetDays) {
  const day = new Date();
  day.setDate(day.getDate() + offsetDays);
  const pad = (value) => String(value).padStart(2, "0");
  return `${day.getFullYear()}-${pad(day.getMonth() + 1)}-${pad(day.getDate())}`;
}

const account = { email: `e2e-${Date.now()}@example.com`, password: "correct horse battery" };
const TASKS = [
  { title: "Write the quarterly report", priority: "high", due: isoDay(2) },
  { title: "Water the plants", priority: "low", due: null },
  { title: "Book a dentist appointment", priority: "medium", due: isoDay(7) },
];
const EDITED_TITLE = "Book the dentist for Tuesday";
const LONG_TITLE = `Supercalifragilistic${"x".repeat(180)}`; // 200 characters, no space to break at
const TOO_LONG_TITLE = "y".repeat(250);

function helpers(page) {
  const taskItems = () => page.getByRole("list", { name: "Tasks" }).getByRole("listitem");
  const task = (title) => taskItems().filter({ hasText: title });
  return {
    taskItems,
    task,
    async visible(locator) {
      await locator.first().waitFor({ state: "visible", timeout: TIMEOUT_MS });
    },
    async gone(locator) {
      await locator.first().waitFor({ state: "detached", timeout: TIMEOUT_MS });
    },
    async countIs(locator, expected) {
      const deadline = Date.now() + TIMEOUT_MS;
      while ((await locator.count()) !== expected) {
        if (Date.now() > deadline) assert.equal(await locator.count(), expected);
        await page.waitForTimeout(100);
      }
    },
    async shot(name) {
      await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true });
    },
    async describedBy(label) {
      return page.getByLabel(label, { exact: true }).first().evaluate((input) => {
        const id = input.getAttribute("aria-describedby");
        return id ? document.getElementById(id)?.textContent ?? "" : "";
      });
    },
  };
}

async function registerAndLogIn(page, h) {
  await page.goto("/");
  await page.waitForURL(/\/login/);
  await h.shot("01-login");
  await page.getByRole("link", { name: "Create an account" }).click();
  await page.getByLabel("Email").fill(account.email);
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();
  await h.visible(page.locator(".field-error"));
  assert.match(await h.describedBy("Password"), /at least 8/i, "server-side password error next to the field");
  await h.shot("02-register-validation-error");
  await page.getByLabel("Password").fill(account.password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/login\?registered=1/);
  await h.visible(page.getByText("Account created"));
  assert.equal(await page.getByLabel("Email").inputValue(), account.email);
  await logIn(page, h);
}

async function logIn(page, h) {
  await page.getByLabel("Password").fill(account.password);
  if (!(await page.getByLabel("Email").inputValue())) await page.getByLabel("Email").fill(account.email);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  await h.visible(page.getByText(account.email));
}

async function addTask(page, h, { title, priority, due }) {
  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("Title").fill(title);
  await form.getByLabel("Priority").selectOption(priority);
  if (due) await form.getByLabel("Due date").fill(due);
  await form.getByRole("button", { name: "Add task" }).click();
  await h.visible(h.task(title));
}

async function addThreeCompleteOneFilter(page, h) {
  for (const task of TASKS) await addTask(page, h, task);
  await h.countIs(h.taskItems(), 3);
  // click, not check(): check() asserts the new state at once, while the controlled checkbox may
  // re-render a moment later on a busy machine; the next line waits for the new state instead.
  await page.getByRole("checkbox", { name: 'Mark "Water the plants" as done' }).click();
  await h.visible(page.getByRole("checkbox", { name: 'Mark "Water the plants" as not done' }));
  await h.shot("03-three-tasks-one-done");

  await page.getByText("Open", { exact: true }).click();
  await h.gone(h.task("Water the plants"));
  await h.countIs(h.taskItems(), 2);
  await h.shot("04-filter-open");
  await page.getByText("Done", { exact: true }).click();
  await h.countIs(h.taskItems(), 1);
  await h.visible(h.task("Water the plants"));
  await page.getByText("All", { exact: true }).click();
  await h.countIs(h.taskItems(), 3);
}

async function chatAddsATask(page, h) {
  await page.getByLabel("Message").fill("add buy milk tomorrow");
  await page.getByRole("button", { name: "Send" }).click();
  const log = page.getByRole("list", { name: "Conversation" });
  await h.visible(log.getByText(/milk/i));
  await h.visible(h.task(/buy milk/i));
  const due = await h.task(/buy milk/i).locator("time").getAttribute("datetime");
  assert.equal(due, isoDay(1), "the chat understood 'tomorrow'");
  await h.countIs(h.taskItems(), 4);
  await h.shot("05-chat-added-task");
}

async function editSortDelete(page, h) {
  await page.getByRole("button", { name: `Edit "${TASKS[2].title}"` }).click();
  const editor = page.getByRole("form", { name: `Edit ${TASKS[2].title}` });
  await editor.getByLabel("Title").fill(EDITED_TITLE);
  await editor.getByLabel("Priority").selectOption("high");
  await editor.getByRole("button", { name: "Save" }).click();
  await h.visible(h.task(EDITED_TITLE).getByText("high priority"));

  await page.getByLabel("Sort by").selectOption("title");
  await h.visible(h.taskItems().first().filter({ hasText: EDITED_TITLE }));
  await page.getByLabel("Sort by").selectOption("-priority");
  await h.visible(h.taskItems().last().filter({ hasText: "Water the plants" }));
  await page.getByLabel("Sort by").selectOption("-created_at");

  await addTask(page, h, { title: "Throw-away task", priority: "low", due: null });
  await page.getByRole("button", { name: 'Delete "Throw-away task"' }).click();
  await h.gone(h.task("Throw-away task"));
  await h.countIs(h.taskItems(), 4);
}

async function longTitles(page, h) {
  await addTask(page, h, { title: LONG_TITLE, priority: "medium", due: null });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `a 200-character title must wrap, not widen the page (overflow ${overflow}px)`);

  const form = page.getByRole("form", { name: "Add a task" });
  await form.getByLabel("Title").fill(TOO_LONG_TITLE);
  await form.getByRole("button", { name: "Add task" }).click();
  await h.visible(form.locator(".field-error"));
  assert.match(await form.getByLabel("Title").evaluate((input) => document.getElementById(input.getAttribute("aria-describedby"))?.textContent ?? ""), /200/);
  await h.countIs(h.taskItems(), 5);
  await h.shot("06-long-title-and-validation-error");
  await form.getByLabel("Title").fill("");
}

async function everythingPersists(page, h) {
  await page.reload();
  await h.countIs(h.taskItems(), 5);
  for (const title of [TASKS[0].title, TASKS[1].title, EDITED_TITLE]) await h.visible(h.task(title));
  await h.visible(h.task(/buy milk/i));
  assert.ok(await page.getByRole("checkbox", { name: 'Mark "Water the plants" as not done' }).isChecked());
  await h.shot("07-after-reload");
  await page.setViewportSize({ width: 390, height: 844 });
  await h.shot("08-phone-width");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (overflow ${overflow}px)`);
  await page.setViewportSize({ width: 1280, height: 860 });
}

async function backendDown(page, h, stack) {
  if (!stack.backend) return "the backend belongs to the deployed app (E2E_BASE_URL), so it is not stopped";
  await stack.backend.stop();
  await page.reload();
  // Next.js has a role=alert route announcer of its own; ours says what happened.
  const alert = page.getByRole("alert").filter({ hasText: "can't be reached" });
  await h.visible(alert);
  const health = await page.request.get("/api/healthz");
  assert.equal(health.status(), 200, "healthz answers while the backend is down");
  await h.shot("09-backend-down");
  await stack.backend.start();
  await alert.getByRole("button", { name: "Retry" }).click();
  await h.countIs(h.taskItems(), 5);
  await h.gone(alert);
}

async function expiredSession(page, h, stack) {
  const cookies = await page.context().cookies();
  const session = cookies.find((cookie) => cookie.name === SESSION_COOKIE);
  assert.ok(session, "the session cookie exists");
  assert.ok(session.httpOnly, "the session cookie is httpOnly");
  assert.equal(await page.evaluate(() => document.cookie.includes("todo_session")), false, "page scripts cannot read the token");
  await page.context().addCookies([{ ...session, value: expiredToken(session.value, stack.jwtSecret) }]);
  await page.reload();
  await page.waitForURL(/\/login\?expired=1/);
  await h.visible(page.getByText("Your session has expired"));
  await h.shot("10-session-expired");
  await logIn(page, h);
  await h.countIs(h.taskItems(), 5);
}

async function logOut(page, h) {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login\?loggedout=1/);
  await h.visible(page.getByText("You have been logged out"));
  await h.shot("11-logged-out");
  await page.goto("/");
  await page.waitForURL(/\/login$/);
}

const STEPS = [
  ["register (with a server-side validation error) and log in", registerAndLogIn],
  ["add three tasks, complete one, filter", addThreeCompleteOneFilter],
  ["chat: add buy milk tomorrow", chatAddsATask],
  ["edit, sort, delete", editSortDelete],
  ["very long titles", longTitles],
  ["reload: everything persisted; phone width", everythingPersists],
  ["backend down: clear message, healthz 200, recovery", backendDown],
  ["expired session: back to login", expiredSession],
  ["log out", logOut],
];

/** Runs every step in a fresh browser; returns how many steps passed, failed and were skipped. */
async function runJourney(stack) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const browser = await launchBrowser(stack.baseUrl);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const h = helpers(page);
  page.context().setDefaultTimeout(TIMEOUT_MS);
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  try {
    for (const [name, step] of STEPS) {
      const started = Date.now();
      const skipped = await step(page, h, stack);
      if (skipped) console.log(`skip ${name}: ${skipped}`);
      else console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      counts[skipped ? "skipped" : "passed"] += 1;
    }
    assert.deepEqual(pageErrors, [], "no uncaught errors in the page");
  } catch (error) {
    // The journey builds on each step, so the steps after a failure are not run.
    counts.failed += 1;
    console.error(`FAIL at ${page.url()}\n${error.stack ?? error}`);
    await h.shot("failure").catch(() => {});
  } finally {
    await browser.close();
  }
  return counts;
}

async function main() {
  // Screenshots from an earlier run must not pass for this one's.
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const stack = await startStack(ARTIFACTS);
  console.log(`testing ${stack.baseUrl}${stack.backend ? " (stack started by this test)" : ""}`);
  let counts = { passed: 0, failed: 1, skipped: 0 };
  try {
    counts = await runJourney(stack);
  } finally {
    await stack.stop();
  }
  console.log(`screenshots and logs: ${ARTIFACTS}`);
  // The closing line test runners read (invoke test counts from it).
  console.log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  process.exitCode = counts.failed ? 1 : 0;
}

await main();
