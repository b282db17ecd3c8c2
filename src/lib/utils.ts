import { clsx, type ClassValue } from 'clsx';
import { twMerge } from 'tailwind-merge';

/** Joins class values and lets later Tailwind utilities override earlier conflicting ones. */
export function cn(...inputs: ClassValue[]): string {
  return twMerge(clsx(inputs));
}

/** Component props minus bits-ui's `child` snippet, for wrappers that render their own element. */
export type WithoutChild<T> = T extends { child?: unknown } ? Omit<T, 'child'> : T;
/** Component props minus `children`, for wrappers that render their own content. */
export type WithoutChildren<T> = T extends { children?: unknown } ? Omit<T, 'children'> : T;
export type WithoutChildrenOrChild<T> = WithoutChildren<WithoutChild<T>>;
/** Adds a bindable `ref` to the underlying DOM element. */
export type WithElementRef<T, U extends HTMLElement = HTMLElement> = T & { ref?: U | null };
