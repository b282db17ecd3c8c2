import { Tooltip as TooltipPrimitive } from 'bits-ui';
import Root from './tooltip.svelte';
import Content from './tooltip-content.svelte';
import Provider from './tooltip-provider.svelte';
import Trigger from './tooltip-trigger.svelte';

const Portal = TooltipPrimitive.Portal;

export {
  Root,
  Content,
  Portal,
  Provider,
  Trigger,
  //
  Root as Tooltip,
  Content as TooltipContent,
  Portal as TooltipPortal,
  Provider as TooltipProvider,
  Trigger as TooltipTrigger,
};
