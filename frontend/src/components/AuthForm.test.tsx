// @vitest-environment jsdom
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { installFakeApi, validationError, type FakeApi } from "@/test/fakeApi";
import { router } from "@/test/router";
import { AuthForm } from "./AuthForm";

let fake: FakeApi;

beforeEach(() => {
  fake = installFakeApi();
  vi.clearAllMocks();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

async function fillIn(email: string, password: string) {
  const user = userEvent.setup();
  await user.type(screen.getByLabelText("Email"), email);
  await user.type(screen.getByLabelText("Password"), password);
  return user;
}

describe("AuthForm", () => {
  it("logs in and goes to the task list", async () => {
    fake.failOnce("POST", "/api/auth/login", 200, { ok: true });
    render(<AuthForm mode="login" />);
    const user = await fillIn("ada@example.com", "correct horse");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(router.replace).toHaveBeenCalledWith("/");
    expect(fake.calls).toEqual(["POST /api/auth/login"]);
  });

  it("after registering, sends the person to log in with the email filled in", async () => {
    fake.failOnce("POST", "/api/auth/register", 201, { id: 1, email: "ada@example.com" });
    render(<AuthForm mode="register" />);
    const user = await fillIn("ada@example.com", "correct horse");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    expect(router.push).toHaveBeenCalledWith("/login?registered=1&email=ada%40example.com");
  });

  it("shows a server-side validation error next to its field", async () => {
    fake.failOnce("POST", "/api/auth/register", 422, validationError("password", "String should have at least 8 characters"));
    render(<AuthForm mode="register" />);
    const user = await fillIn("ada@example.com", "short");
    await user.click(screen.getByRole("button", { name: "Create account" }));
    const password = screen.getByLabelText("Password");
    expect(password).toHaveAttribute("aria-invalid", "true");
    expect(password).toHaveAccessibleDescription("String should have at least 8 characters");
    expect(router.push).not.toHaveBeenCalled();
  });

  it("shows wrong credentials as a form error", async () => {
    fake.failOnce("POST", "/api/auth/login", 401, { detail: "Invalid email or password", code: "invalid_credentials" });
    render(<AuthForm mode="login" />);
    const user = await fillIn("ada@example.com", "wrong password");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(screen.getByRole("alert")).toHaveTextContent("Invalid email or password");
  });

  it("explains an outage instead of failing silently", async () => {
    fake.failWith = 502;
    render(<AuthForm mode="login" />);
    const user = await fillIn("ada@example.com", "correct horse");
    await user.click(screen.getByRole("button", { name: "Log in" }));
    expect(screen.getByRole("alert")).toHaveTextContent("can't be reached right now");
    expect(screen.getByRole("button", { name: "Log in" })).toBeEnabled();
  });

  it("shows the notice it was given", () => {
    render(<AuthForm mode="login" notice="Your session has expired. Please log in again." initialEmail="ada@example.com" />);
    expect(screen.getByRole("status")).toHaveTextContent("Your session has expired");
    expect(screen.getByLabelText("Email")).toHaveValue("ada@example.com");
  });
});
