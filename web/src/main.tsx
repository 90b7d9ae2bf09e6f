import { render } from 'preact';
import { App } from './components/App.js';
import { createStore } from './state/store.js';
import './styles.css';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App store={createStore()} />, root);
}
