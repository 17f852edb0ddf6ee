import { api } from '../api.js';
import { h, field } from '../ui.js';

export function signinPage(root, ctx) {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const msg = h('p', { class: 'error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, '⚡ Wattson'),
    h('p', { class: 'muted' }, 'Sign in to the charging dashboard.'),
    field('User name', user), field('Password', pass), msg, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    msg.hidden = true;
    button.disabled = true;
    try {
      const res = await api('POST', '/session', { username: user.value.trim(), password: pass.value }, { quiet401: true });
      ctx.signedIn(res.user);
      const next = ctx.query.get('next');
      // Only an in-app path: never send the user to another site.
      ctx.navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    } catch (err) {
      msg.textContent = err.status === 401 ? 'That user name and password do not match.' : err.message;
      msg.hidden = false;
      pass.select();
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  user.focus();
}
