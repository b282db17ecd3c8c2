import { DropdownMenu as DropdownMenuPrimitive } from 'bits-ui';
import Root from './dropdown-menu.svelte';
import Content from './dropdown-menu-content.svelte';
import Group from './dropdown-menu-group.svelte';
import GroupHeading from './dropdown-menu-group-heading.svelte';
import Item from './dropdown-menu-item.svelte';
import Label from './dropdown-menu-label.svelte';
import RadioGroup from './dropdown-menu-radio-group.svelte';
import RadioItem from './dropdown-menu-radio-item.svelte';
import Separator from './dropdown-menu-separator.svelte';
import Shortcut from './dropdown-menu-shortcut.svelte';
import Trigger from './dropdown-menu-trigger.svelte';

const Portal = DropdownMenuPrimitive.Portal;

export {
  Root,
  Content,
  Group,
  GroupHeading,
  Item,
  Label,
  Portal,
  RadioGroup,
  RadioItem,
  Separator,
  Shortcut,
  Trigger,
  //
  Root as DropdownMenu,
  Content as DropdownMenuContent,
  Group as DropdownMenuGroup,
  GroupHeading as DropdownMenuGroupHeading,
  Item as DropdownMenuItem,
  Label as DropdownMenuLabel,
  Portal as DropdownMenuPortal,
  RadioGroup as DropdownMenuRadioGroup,
  RadioItem as DropdownMenuRadioItem,
  Separator as DropdownMenuSeparator,
  Shortcut as DropdownMenuShortcut,
  Trigger as DropdownMenuTrigger,
};
