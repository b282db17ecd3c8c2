import Root, { badgeVariants, type BadgeProps, type BadgeVariant } from './badge.svelte';

export {
  Root,
  //
  Root as Badge,
  badgeVariants,
  type BadgeProps,
  type BadgeVariant,
};
