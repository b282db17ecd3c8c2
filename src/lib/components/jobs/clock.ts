import { createSubscriber } from 'svelte/reactivity';

let now = Date.now();
const subscribe = createSubscriber((update) => {
  now = Date.now();
  const timer = setInterval(() => {
    now = Date.now();
    update();
  }, 1000);
  return () => clearInterval(timer);
});

/**
 * A clock that ticks once a second, but only while something reactive reads it
 * (a running job's duration); nothing ticks on a page without running jobs.
 */
export const clock = {
  get now(): number {
    subscribe();
    return now;
  },
};
