/** Account shapes shared by the server and the UI. */
export type Role = 'admin' | 'user';

export interface User {
  id: string;
  username: string;
  role: Role;
  tier: string;
  canTerminal: boolean;
}

/** What an admin sees of an account. */
export interface Account extends User {
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
  /** Set while failed logins keep the account locked out. */
  lockedUntil: string | null;
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Null: never expires. */
  expiresAt: string | null;
}

/** Lifetimes offered for a new API token, in days; null means no expiry. */
export const TOKEN_LIFETIMES_DAYS = [7, 30, 90, 365, null] as const;

export const MIN_PASSWORD_LENGTH = 8;

export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
