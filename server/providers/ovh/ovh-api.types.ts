/**
 * The parts of OVH API v1 `/cloud/project/{serviceName}/…` payloads this provider reads. OVH
 * sends more fields; only these are relied on.
 */

export type OvhInstanceStatus =
  | 'ACTIVE' | 'BUILD' | 'BUILDING' | 'DELETED' | 'DELETING' | 'ERROR' | 'HARD_REBOOT' | 'REBOOT'
  | 'REBUILD' | 'RESCUE' | 'RESIZE' | 'SHELVED' | 'SHELVED_OFFLOADED' | 'SHUTOFF' | 'STOPPED'
  | 'SUSPENDED' | 'PAUSED' | 'SOFT_DELETED' | 'UNKNOWN' | (string & {});

export interface OvhIpAddress {
  ip: string;
  type: 'public' | 'private' | (string & {});
  version: number;
  networkId?: string;
  gatewayIp?: string | null;
}

export interface OvhInstance {
  id: string;
  name: string;
  status: OvhInstanceStatus;
  flavorId: string;
  imageId: string;
  region: string;
  sshKeyId?: string | null;
  ipAddresses: OvhIpAddress[];
  /** ISO 8601. */
  created: string;
  monthlyBilling?: unknown;
}

export interface OvhFlavor {
  id: string;
  name: string;
  region: string;
  vcpus: number;
  /** Megabytes (OVH counts a "7 GB" flavor as 7000). */
  ram: number;
  /** Gigabytes of root disk, fixed by the flavor. */
  disk: number;
  osType?: string;
  available?: boolean;
}

export interface OvhImage {
  id: string;
  name: string;
  region: string;
  status?: string;
  type?: string;
  /** Gigabytes. */
  minDisk?: number;
  /** Megabytes. */
  minRam?: number;
}

export interface OvhSshKey {
  id: string;
  name: string;
  publicKey: string;
  regions?: string[];
}

export interface OvhCreateInstanceBody {
  name: string;
  flavorId: string;
  imageId: string;
  region: string;
  sshKeyId: string;
  /** Always false: monthly billing cannot be switched back to hourly. */
  monthlyBilling: false;
  /** cloud-init configuration run at first boot. */
  userData?: string;
}
