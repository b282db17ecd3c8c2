import * as H from '@xterm/headless';
import * as S from '@xterm/addon-serialize';
import H2 from '@xterm/headless';
console.log(Object.keys(H), Object.keys(S), typeof H2);
