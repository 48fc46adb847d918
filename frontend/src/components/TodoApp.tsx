"use client";

import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, asApiError } from "@/lib/api";
import { useTasks } from "@/hooks/useTasks";
import type { TaskFilters as Filters } from "@/lib/types";
import { Alert } from "./Alert";
import { ChatPanel } from "./ChatPanel";
import { TaskFilters } from "./TaskFilters";
import { TaskForm } from "./TaskForm";
import { TaskList } from "./TaskList";

const DEFAULT_FILTERS: Filters = { status: "all", priority: "", sort: "-created_at" };

/** The signed-in page: tasks on the left, the assistant on the right (below on phones). */
export function TodoApp() {
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [filters, setFilters] = useState(DEFAULT_FILTERS);
  const [error, setError] = useState<ApiError | null>(null);
  const tasksHeading = useRef<HTMLHeadingElement>(null);

  const handleError = useCallback(
    (apiError: ApiError) => {
      if (apiError.isUnauthorized) router.replace("/login?expired=1");
      else setError(apiError);
    },
    [router],
  );

  const { tasks, loading, reload, add, update, remove } = useTasks(filters, handleError);

  useEffect(() => {
    api.me().then(
      (user) => setEmail(user.email),
      (failure) => handleError(asApiError(failure)),
    );
  }, [handleError]);

  async function logout() {
    await api.logout().catch(() => undefined);
    router.replace("/login?loggedout=1");
    router.refresh();
  }

  function retry() {
    setError(null);
    void reload();
  }

  return (
    <div className="app">
      <header className="app-header">
        <h1>Todo</h1>
        <div className="account">
          {email && (
            <span className="account-email" title={email}>
              {email}
            </span>
          )}
          <button type="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      {error && (
        <Alert kind="error">
          <span>{error.message}</span>{" "}
          <button type="button" onClick={retry}>
            Retry
          </button>
        </Alert>
      )}
      <div className="layout">
        <main className="card tasks" aria-labelledby="tasks-heading">
          <h2 id="tasks-heading" ref={tasksHeading} tabIndex={-1}>
            Tasks
          </h2>
          <TaskForm submitLabel="Add task" onSubmit={add} />
          <TaskFilters filters={filters} onChange={setFilters} />
          <TaskList
            tasks={tasks}
            loading={loading}
            failed={error !== null}
            onUpdate={update}
            onDelete={(id) => {
              // The focused Delete button is about to disappear with its row.
              tasksHeading.current?.focus();
              void remove(id);
            }}
          />
        </main>
        <ChatPanel onTasksChanged={() => void reload()} onError={handleError} />
      </div>
    </div>
  );
}
