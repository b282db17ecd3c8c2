import type { Db } from '../../server/platform/db.ts';
import type { AuditLog } from '../../server/platform/audit.ts';
import { AuthRepository } from '../../server/platform/auth/auth.repository.ts';
import { AuthService } from '../../server/platform/auth/auth.service.ts';
import { LoginThrottle } from '../../server/platform/auth/login-throttle.ts';
import type { Logger } from '../../server/platform/logger.ts';

/** An AuthService on a test database with the default throttle settings. */
export function testAuthService(db: Db, audit: AuditLog, log: Logger): AuthService {
  const throttle = new LoginThrottle(db, {
    maxFailuresPerUser: 5, maxFailuresPerAddress: 20, lockSeconds: 30, lockMaxSeconds: 900, windowSeconds: 900,
  });
  return new AuthService(new AuthRepository(db), audit, log, { sessionTtlHours: 1, throttle });
}
