'use strict';

// The private chat panes of steps 3 and 11: one pane per person, hidden until opened, and an
// unread count on that person's list entry. Page plumbing only: what a click on someone connects
// and what Send sends is the step's main.js (its lesson); this keeps which pane is on screen and
// what is unread.
class PrivateChats {
  constructor({area, hint, template}) {
    this.area = area; // where the panes go
    this.hint = hint; // shown while no pane is open
    this.template = template; // one pane: .title, .log, a form with .message and .send
    this.openPeer = null; // the peer whose pane is on screen
  }

  // A hidden pane for `peer`, whose list entry is `peer.item`. Returns {log, input}; the form
  // calls send() with the text typed.
  add(peer, send) {
    const chat = this.template.content.firstElementChild.cloneNode(true);
    chat.dataset.peerName = peer.name;
    chat.querySelector('.title').textContent = `Chat with ${peer.name}`;
    chat.querySelector('form').onsubmit = (event) => {
      event.preventDefault();
      send();
    };
    this.area.append(chat);
    peer.pane = {chat, unread: 0, gone: false};
    return {log: chat.querySelector('.log'), input: chat.querySelector('.message')};
  }

  // Puts this peer's pane on screen, in place of the one that was.
  show(peer) {
    this.hide();
    this.openPeer = peer;
    peer.item.setAttribute('aria-current', 'true');
    peer.pane.chat.hidden = false;
    this.hint.hidden = true;
    peer.pane.unread = 0;
    this.showUnread(peer);
    peer.pane.chat.querySelector('.message').focus();
  }

  hide() {
    const peer = this.openPeer;
    if (!peer) {
      return;
    }
    peer.item.removeAttribute('aria-current');
    peer.pane.chat.hidden = true;
    if (peer.pane.gone) {
      peer.pane.chat.remove(); // they left; we kept their chat on screen until now
    }
    this.openPeer = null;
    this.hint.hidden = false;
  }

  // A message arrived in this peer's pane: counted if the pane is not the one on screen.
  received(peer) {
    if (peer !== this.openPeer) {
      peer.pane.unread += 1;
      this.showUnread(peer);
    }
  }

  // They left: nobody is reading a hidden pane, but an open one stays until you pick another.
  remove(peer) {
    peer.pane.gone = true;
    if (peer !== this.openPeer) {
      peer.pane.chat.remove();
    }
  }

  // The pane can send while `usable` (its peer's channel is open).
  setUsable(peer, usable) {
    const input = peer.pane.chat.querySelector('.message');
    input.disabled = !usable;
    peer.pane.chat.querySelector('.send').disabled = !usable;
    if (usable && peer === this.openPeer) {
      input.focus();
    }
  }

  showUnread(peer) {
    const badge = peer.item.querySelector('.unread');
    badge.textContent = peer.pane.unread;
    badge.hidden = peer.pane.unread === 0;
  }
}
