import { expect, test } from '@playwright/test';
import { dockerForTests, removeContainersLabelled } from '../helpers/docker.ts';
import { signIn } from './session.ts';
import { shootBothThemes } from './shots.ts';

const VM_URL = /\/vms\/[0-9a-f-]{36}$/;
const TERMINAL_URL = /\/terminals\/[0-9a-f-]{36}$/;

// Under CI a missing Docker engine fails the run here; elsewhere the VM spec skips.
const docker = await dockerForTests();
const made: string[] = [];

test.afterAll(async () => {
  for (const id of made) await removeContainersLabelled(docker!, `vm-orchestrator.vm=${id}`);
});

test('create a VM, watch it provision live, see it running, open a shell in it, stop it and destroy it', async ({ page }) => {
  test.skip(!docker, 'no Docker engine (apt-get install docker.io, then dockerd &)');
  test.setTimeout(120_000);
  await signIn(page);
  await page.goto('/vms');
  await page.getByRole('button', { name: 'Create VM' }).first().click();
  const dialog = page.getByTestId('create-vm-dialog');
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Name').fill('e2e-vm');
  await shootBothThemes(page, 'vm-create-dialog', async () => {
    await page.getByRole('button', { name: 'Create VM' }).first().click();
    await page.getByTestId('create-vm-dialog').getByLabel('Name').fill('e2e-vm');
  });
  await page.getByTestId('create-vm-submit').click();

  // The VM page, with its provisioning log filling live until it says where to SSH.
  await expect(page).toHaveURL(VM_URL);
  made.push(page.url().split('/').pop()!);
  await expect(page.getByTestId('latest-operation')).toContainText(/SSH: root@127\.0\.0\.1 port \d+/, { timeout: 60_000 });
  await expect(page.getByTestId('vm-page').getByTestId('vm-status').first()).toHaveAttribute('data-state', 'running', { timeout: 30_000 });
  await expect(page.getByTestId('ssh-command')).toContainText(/ssh -i e2e-vm\.key -p \d+ root@127\.0\.0\.1/);
  await shootBothThemes(page, 'vm-page', async () => {
    await expect(page.getByTestId('ssh-command')).toBeVisible();
  });

  // The list shows it running, with its actions.
  await page.goto('/vms');
  await shootBothThemes(page, 'vms-list', () =>
    expect(page.locator(`[data-testid="vm-row"][data-vm-id="${made[0]}"]`)).toHaveAttribute('data-state', 'running'),
  );
  await page.goBack();
  await expect(page).toHaveURL(VM_URL);

  // A shell in the VM: a terminal page whose screen shows the VM's prompt.
  await page.getByTestId('open-shell').click();
  await expect(page).toHaveURL(TERMINAL_URL);
  const screen = page.getByTestId('terminal-screen');
  // Keys typed before the terminal is attached would be lost.
  await expect(page.getByTestId('terminal-view')).toHaveAttribute('data-phase', 'attached', { timeout: 20_000 });
  await screen.click();
  await page.keyboard.type('echo in-$((6*7))-vm\n');
  await expect(screen).toContainText('in-42-vm', { timeout: 20_000 });
  await page.goBack();
  await expect(page).toHaveURL(VM_URL);

  // Stop, then destroy (behind its confirmation); the badge follows each without a reload.
  const actions = page.getByTestId('vm-page').getByTestId('vm-actions').first();
  await actions.getByRole('button', { name: /^Stop/ }).click();
  await expect(page.getByTestId('vm-page').getByTestId('vm-status').first()).toHaveAttribute('data-state', 'stopped', { timeout: 30_000 });
  await actions.getByRole('button', { name: /^Destroy/ }).click();
  await page.getByTestId('confirm-destroy').click();
  await expect(page.getByTestId('vm-page').getByTestId('vm-status').first()).toHaveAttribute('data-state', 'destroyed', { timeout: 30_000 });

  await page.goto('/vms');
  await expect(page.locator(`[data-testid="vm-row"][data-vm-id="${made[0]}"]`)).toHaveCount(0);

  // The administrators' views of the same history.
  await page.goto('/admin/vms');
  await expect(page.getByTestId('vms-by-state')).toContainText('destroyed');
  await shootBothThemes(page, 'admin-vms', () => expect(page.getByTestId('vm-capacity')).toBeVisible());
  await page.goto('/admin/operations');
  await shootBothThemes(page, 'admin-operations', () => expect(page.getByTestId('queue-queued')).toBeVisible());
});
