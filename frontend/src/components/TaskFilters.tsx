"use client";

import { PRIORITIES, type SortKey, type StatusFilter, type TaskFilters as Filters } from "@/lib/types";

const STATUS_OPTIONS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "open", label: "Open" },
  { value: "done", label: "Done" },
];

const SORT_OPTIONS: { value: SortKey; label: string }[] = [
  { value: "-created_at", label: "Newest first" },
  { value: "created_at", label: "Oldest first" },
  { value: "due_date", label: "Due date" },
  { value: "-priority", label: "Priority (high first)" },
  { value: "title", label: "Title (A–Z)" },
];

interface TaskFiltersProps {
  filters: Filters;
  onChange: (filters: Filters) => void;
}

export function TaskFilters({ filters, onChange }: TaskFiltersProps) {
  return (
    <div className="filters" role="group" aria-label="Filter and sort tasks">
      <fieldset className="status-filter">
        <legend>Show</legend>
        <div className="segmented">
          {STATUS_OPTIONS.map((option) => (
            <label key={option.value} className={filters.status === option.value ? "selected" : undefined}>
              <input
                type="radio"
                name="status"
                value={option.value}
                checked={filters.status === option.value}
                onChange={() => onChange({ ...filters, status: option.value })}
              />
              {option.label}
            </label>
          ))}
        </div>
      </fieldset>
      <div className="field">
        <label htmlFor="filter-priority">Priority</label>
        <select
          id="filter-priority"
          value={filters.priority}
          onChange={(event) => onChange({ ...filters, priority: event.target.value as Filters["priority"] })}
        >
          <option value="">Any</option>
          {PRIORITIES.map((priority) => (
            <option key={priority} value={priority}>
              {priority}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="filter-sort">Sort by</label>
        <select
          id="filter-sort"
          value={filters.sort}
          onChange={(event) => onChange({ ...filters, sort: event.target.value as SortKey })}
        >
          {SORT_OPTIONS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
      </div>
    </div>
  );
}
