/** Account shapes shared by the server and the UI. */
export type Role = 'admin' | 'user';

export interface User {
  id: string;
  username: string;
  role: Role;
  tier: string;
  canTerminal: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface ApiErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
