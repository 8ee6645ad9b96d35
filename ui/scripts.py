"""The page's own JavaScript: clicks inside chat messages, which Gradio events cannot reach.

Answers are HTML inside the Chatbot (sanitised: no inline handlers), so one listener on the
document handles them: a [n] marker (class ``qa-key-<turn>-<n>``: the chat's sanitiser drops
data attributes) or an archive row (``data-row``: its place on the page) writes its key into a
hidden textbox whose ``change`` event runs the Python handler; "Copy answer with sources" copies
the Markdown kept hidden beside the button (text, not HTML).
"""

from __future__ import annotations

REF_BOX = "qa-ref-pick"  # elem_id of the hidden textbox a marker click writes "turn:n" into
OPEN_BOX = "qa-archive-open"  # ... a listed title writes its row on the page into
REMOVE_BOX = "qa-archive-remove"  # ... a "Remove…" button writes its row on the page into

PAGE_JS = (
    """
() => {
  window.qaPage = true;
  const send = (id, value) => {
    const box = document.querySelector(`#${id} textarea, #${id} input`);
    if (!box) return;
    box.value = `${value}|${Date.now()}`;  // a new value each click: the same marker twice
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) {  // no clipboard API (plain http on a network address): the old way
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      const done = document.execCommand('copy');
      area.remove();
      return done;
    }
  };
  const act = (event) => {
    const ref = event.target.closest('.qa-ref');
    const key = ref && [...ref.classList].find((c) => c.startsWith('qa-key-'));
    if (key) {
      event.preventDefault();
      const [turn, n] = key.slice(7).split('-');
      send('"""
    + REF_BOX
    + """', `${turn}:${n}`);
      return;
    }
    const row = event.target.closest('tr[data-row]');
    if (row && event.target.closest('.qa-open')) {
      event.preventDefault();
      send('"""
    + OPEN_BOX
    + """', row.dataset.row);
      return;
    }
    if (row && event.target.closest('.qa-remove')) {
      event.preventDefault();
      send('"""
    + REMOVE_BOX
    + """', row.dataset.row);
      return;
    }
    const button = event.target.closest('.qa-copy');
    const source = button?.parentElement.querySelector('.qa-md');
    if (source) {
      event.preventDefault();
      copy(source.textContent).then((ok) => {
        button.textContent = ok ? 'Copied ✓' : 'Copy failed: select the text instead';
        setTimeout(() => { button.textContent = 'Copy answer with sources'; }, 2000);
      });
    }
  };
  document.addEventListener('click', act);
  document.addEventListener('keydown', (event) => {
    const key = event.key === 'Enter' || event.key === ' ';
    if (key && event.target.closest?.('.qa-ref, .qa-open')) act(event);
  });
}
"""
)
