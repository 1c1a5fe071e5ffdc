// The pages' small enhancements; every page works without them.
"use strict";

// Forms that change something ask first: <form data-confirm="…">. `{picked}`, `{level}` and
// `{department}` in the question are what the form's select of that name has chosen, in
// its words (催办, 督办, 挂牌督办; a department's name).
document.addEventListener("submit", (event) => {
  const form = event.target;
  let question = form.getAttribute("data-confirm");
  for (const name of ["level", "department"]) {
    const select = form.querySelector(`select[name=${name}]`);
    if (question && select && select.selectedIndex >= 0) {
      question = question.replace(`{${name}}`, select.options[select.selectedIndex].text);
    }
  }
  // `{picked}`: how many rows are ticked for this form (a bulk action).
  if (question && question.includes("{picked}")) {
    const picked = document.querySelectorAll(`input[name=order][form="${form.id}"]:checked`).length;
    question = question.replace("{picked}", String(picked));
  }
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// A file larger than the server takes is said beside its field before it is sent (a
// phone's photo can be larger than the limit; sent, it would be refused only after the
// whole upload): <input type=file data-max-bytes="…" data-too-large="…">.
document.addEventListener("submit", (event) => {
  for (const input of event.target.querySelectorAll("input[type=file][data-max-bytes]")) {
    const max = Number(input.getAttribute("data-max-bytes"));
    const file = input.files && input.files[0];
    if (file && file.size > max) {
      event.preventDefault();
      let said = document.getElementById(`${input.id}-fault`);
      if (!said) {
        said = document.createElement("span");
        said.className = "field-fault";
        said.id = `${input.id}-fault`;
        input.after(said);
      }
      said.textContent = input.getAttribute("data-too-large");
    }
  }
}, true);

// The matter picker: a search box over names, codes and keywords.
function matterSearch() {
  const search = document.getElementById("matter-search");
  const select = document.getElementById("category");
  if (!search || !select) return;
  search.hidden = false;
  search.addEventListener("input", () => {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    // The operator picks: a search that matches one matter selects it, one that matches
    // several leaves the choice to them (typing 电梯 must not pick 电梯困人, a 30-minute
    // emergency, for an escalator complaint), and a choice the search hides is undone.
    const matches = [];
    for (const option of select.options) {
      const haystack = (option.dataset.search || option.textContent).toLowerCase();
      const shown = option.value === "其他" || words.every((w) => haystack.includes(w));
      option.hidden = !shown;
      if (shown && option.value !== "其他") matches.push(option);
    }
    if (words.length > 0 && matches.length === 1) {
      select.value = matches[0].value;
    } else if (select.selectedOptions[0] && select.selectedOptions[0].hidden) {
      select.value = "其他";
    }
  });
}

const LEVELS = {
  sign_overdue: "超时未签收",
  warning: "临期预警",
  overdue: "超承诺时限",
  statutory_overdue: "超法定时限",
  co_overdue: "协办超期未答复",
  supervision: "转为督办",
};

// The board's live alerts: Server-Sent Events, newest first.
function liveAlerts() {
  const list = document.getElementById("live-alerts");
  if (!list || !window.EventSource) return;
  const count = document.getElementById("live-count");
  // The page lists today's alerts so far; the stream goes on from the feed's place when
  // the page was drawn, and an alert both listed and streamed is shown once.
  const after = list.dataset.after;
  const source = new EventSource(
    "/api/alerts/stream" + (after ? "?after=" + encodeURIComponent(after) : ""));
  // A page left behind (kept in the back/forward cache) would hold its stream open, and a
  // browser opens at most six connections to a site: six boards visited in a row stalled
  // the next click for a minute. Close it on leaving; a page brought back from that cache
  // reloads, for its counts are as old as its stream.
  window.addEventListener("pagehide", () => source.close());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) location.reload();
  });
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    if (list.querySelector(`[data-alert-id="${CSS.escape(alert.alert_id)}"]`)) return;
    const item = document.createElement("li");
    item.className = "alert level-" + alert.level;
    item.dataset.orderNo = alert.order_no;
    item.dataset.alertId = alert.alert_id;
    const link = document.createElement("a");
    link.href = "/orders/" + encodeURIComponent(alert.order_no);
    link.textContent = alert.order_no;
    const what = document.createElement("span");
    what.textContent = " " + (LEVELS[alert.level] || alert.level) + " · " + alert.department + " · " + alert.fired_at.slice(11, 19);
    item.append(link, what);
    list.prepend(item);
    while (list.children.length > 50) list.lastElementChild.remove();
    if (count) count.textContent = String(Number(count.textContent) + 1);
    const empty = document.getElementById("live-empty");
    if (empty) empty.remove();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  matterSearch();
  liveAlerts();
});

// Copy buttons: <button data-copy="…">. The text stays selectable where the clipboard is
// not available (an http:// page outside localhost).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const text = button.getAttribute("data-copy");
  const done = () => { button.textContent = "已复制"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else {
    const shown = document.getElementById("registered-no");
    if (shown) window.getSelection().selectAllChildren(shown);
  }
});

// A form sent back with faults: the first faulty field is where the person goes next.
document.addEventListener("DOMContentLoaded", () => {
  const faulty = document.querySelector("[aria-invalid='true']");
  if (faulty) faulty.focus();
});
