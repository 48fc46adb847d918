"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, api, asApiError } from "@/lib/api";
import type { Task, TaskFilters, TaskInput, TaskPatch } from "@/lib/types";

function hasFieldErrors(error: ApiError): boolean {
  return Object.keys(error.fieldErrors).length > 0;
}

// Negative, so a temporary id can never clash with one the server gave out.
let nextTemporaryId = -1;

function optimisticTask(input: TaskInput): Task {
  const now = new Date().toISOString();
  return { ...input, id: nextTemporaryId--, done: false, created_at: now, updated_at: now };
}

/**
 * The task list for the given filters, with optimistic changes: the screen
 * changes at once, is rolled back if the server refuses, and is then replaced
 * by what the server says (which also applies its filter and sort order).
 *
 * Errors with field details are left to the form that caused them (rethrown);
 * every other error goes to `onError`.
 */
export function useTasks(filters: TaskFilters, onError: (error: ApiError) => void) {
  const [tasks, setTasks] = useState<Task[]>([]);
  const [loading, setLoading] = useState(true);
  // Only the newest load may write the list, whatever order answers arrive in.
  const latestLoad = useRef(0);
  // Adds still on their way stay on screen when a load finishes before them.
  const pendingAdds = useRef(new Map<number, Task>());

  const reload = useCallback(async () => {
    const ticket = ++latestLoad.current;
    try {
      const fresh = await api.listTasks(filters);
      if (ticket === latestLoad.current) setTasks([...pendingAdds.current.values(), ...fresh]);
    } catch (error) {
      if (ticket === latestLoad.current) onError(asApiError(error));
    } finally {
      if (ticket === latestLoad.current) setLoading(false);
    }
  }, [filters, onError]);

  useEffect(() => {
    setLoading(true);
    void reload();
  }, [reload]);

  const report = useCallback(
    (error: unknown): ApiError => {
      const apiError = asApiError(error);
      if (!hasFieldErrors(apiError)) onError(apiError);
      return apiError;
    },
    [onError],
  );

  const add = useCallback(
    async (input: TaskInput) => {
      const temporary = optimisticTask(input);
      pendingAdds.current.set(temporary.id, temporary);
      setTasks((current) => [temporary, ...current]);
      try {
        await api.createTask(input);
      } catch (error) {
        setTasks((current) => current.filter((task) => task.id !== temporary.id));
        throw report(error);
      } finally {
        pendingAdds.current.delete(temporary.id);
      }
      await reload();
    },
    [reload, report],
  );

  const update = useCallback(
    async (id: number, patch: TaskPatch) => {
      const previous = tasks.find((task) => task.id === id);
      setTasks((current) => current.map((task) => (task.id === id ? { ...task, ...patch } : task)));
      try {
        await api.updateTask(id, patch);
      } catch (error) {
        if (previous) setTasks((current) => current.map((task) => (task.id === id ? previous : task)));
        throw report(error);
      }
      await reload();
    },
    [tasks, reload, report],
  );

  const remove = useCallback(
    async (id: number) => {
      const before = tasks;
      setTasks((current) => current.filter((task) => task.id !== id));
      try {
        await api.deleteTask(id);
      } catch (error) {
        setTasks(before);
        report(error);
        return;
      }
      await reload();
    },
    [tasks, reload, report],
  );

  return { tasks, loading, reload, add, update, remove };
}
