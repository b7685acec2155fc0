// slpdiff lesson page: steps through the forward sweep and the derivative sweeps like a movie.
// Every number comes from the page's data (the engine's own, as slpdiff prints them); this
// script only shows and hides them. No framework, no network.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("lesson-data").textContent);
  var steps = data.steps, last = steps.length - 1, cur = 0, timer = null;
  var $ = function (id) { return document.getElementById(id); };
  var MARKS = ["is-target", "is-source", "is-edge", "is-changed", "is-current"];

  // Table rows (and sweep footers) by the step that reveals them.
  var rowsAt = [];
  document.querySelectorAll("[data-s]").forEach(function (el) {
    var s = +el.dataset.s;
    (rowsAt[s] = rowsAt[s] || []).push(el);
    if (el.tagName === "TR" && el.parentNode.tagName === "TBODY") {
      el.addEventListener("click", function () { stop(); goTo(s); });
    }
  });

  function setText(id, text) {
    var el = $(id);
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("unknown", text === "?");
    if (/^n\d+-v$/.test(id)) el.closest(".node").classList.toggle("pending", text === "?");
  }

  // Step k forwards (its changes' new texts) or backwards (their old texts).
  function apply(k, forwards) {
    steps[k].s.forEach(function (c) { setText(c[0], forwards ? c[1] : c[2]); });
    (rowsAt[k] || []).forEach(function (el) { el.classList.toggle("future", !forwards); });
  }

  function unmark() {
    MARKS.forEach(function (cls) {
      document.querySelectorAll("." + cls).forEach(function (el) {
        el.classList.remove(cls);
        el.removeAttribute("aria-current");
      });
    });
  }

  function mark(el, cls) { if (el) el.classList.add(cls); return el; }

  // Scroll els into view inside their scroll box only (never the page): all of them if they
  // fit, else the first.
  function reveal(els, box) {
    els = els.filter(Boolean);
    if (!els.length || !box) return;
    var b = box.getBoundingClientRect(), m = 24, r = els[0].getBoundingClientRect();
    var u = els.reduce(function (a, el) {
      var q = el.getBoundingClientRect();
      return { top: Math.min(a.top, q.top), bottom: Math.max(a.bottom, q.bottom),
               left: Math.min(a.left, q.left), right: Math.max(a.right, q.right) };
    }, { top: r.top, bottom: r.bottom, left: r.left, right: r.right });
    if (u.bottom - u.top < b.height - 2 * m && u.right - u.left < b.width - 2 * m) r = u;
    if (r.top < b.top + m || r.bottom > b.bottom - m) {
      box.scrollTop += (r.top + r.bottom) / 2 - (b.top + b.bottom) / 2;
    }
    if (r.left < b.left + m || r.right > b.right - m) {
      box.scrollLeft += (r.left + r.right) / 2 - (b.left + b.right) / 2;
    }
  }

  function show() {
    var st = steps[cur];
    unmark();
    var target = st.n === null ? null : mark($("n" + st.n), "is-target");
    st.src.forEach(function (i) { if (i !== st.n) mark($("n" + i), "is-source"); });
    st.e.forEach(function (j) { mark($("e" + j), "is-edge"); });
    if (st.c) mark($(st.c), "is-changed");
    var line = st.l === null ? null : mark($("L" + st.l), "is-current");
    if (line) line.setAttribute("aria-current", "step");
    var row = $("r" + cur);
    if (mark(row, "is-current")) row.setAttribute("aria-current", "step");
    // The explanation, which the status region reads out.
    $("phase").textContent = "Step " + cur + " of " + last + " · " + st.p;
    var calc = $("calc");
    calc.textContent = "";
    st.t.forEach(function (text, j) {
      var p = document.createElement("p");
      p.textContent = text;
      if (j === 0 && st.k !== "start") p.className = "update";
      calc.appendChild(p);
    });
    st.w.forEach(function (text) {
      var p = document.createElement("p");
      p.className = "warn";
      p.textContent = "Warning: " + text;
      calc.appendChild(p);
    });
    $("counter").textContent = "step " + cur + " of " + last;
    var scrub = $("scrub");
    scrub.value = cur;
    scrub.setAttribute("aria-valuetext", "step " + cur + " of " + last);
    $("b-start").disabled = $("b-back").disabled = cur === 0;
    $("b-next").disabled = $("b-end").disabled = cur === last;
    reveal([target].concat(st.src.map(function (i) { return $("n" + i); })), $("graph-scroll"));
    reveal([line], $("program-scroll"));
    if (row) reveal([row], row.closest(".scroll"));
    try { history.replaceState(null, "", "#step=" + cur); } catch (e) { /* sandboxed iframe */ }
  }

  function goTo(k) {
    k = Math.max(0, Math.min(last, k | 0));
    while (cur < k) apply(++cur, true);
    while (cur > k) apply(cur--, false);
    show();
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    $("b-play").setAttribute("aria-pressed", "false");
    $("b-play-text").textContent = "Play";
    $("b-play-icon").textContent = "▶";
  }

  function play() {
    if (cur === last) goTo(0);
    $("b-play").setAttribute("aria-pressed", "true");
    $("b-play-text").textContent = "Pause";
    $("b-play-icon").textContent = "❚❚";
    timer = setInterval(function () {
      if (cur >= last) stop(); else goTo(cur + 1);
    }, +$("speed").value);
  }

  function toggle() { if (timer === null) play(); else stop(); }

  $("b-start").addEventListener("click", function () { stop(); goTo(0); });
  $("b-back").addEventListener("click", function () { stop(); goTo(cur - 1); });
  $("b-next").addEventListener("click", function () { stop(); goTo(cur + 1); });
  $("b-end").addEventListener("click", function () { stop(); goTo(last); });
  $("b-play").addEventListener("click", toggle);
  $("scrub").addEventListener("input", function () { stop(); goTo(+this.value); });
  $("speed").addEventListener("change", function () { if (timer !== null) { stop(); play(); } });

  // How a scroll box got the focus: from the keyboard (Tab), it keeps its keys to scroll.
  var byPointer = false;
  document.addEventListener("mousedown", function (ev) {
    byPointer = true;
    var box = ev.target.closest && ev.target.closest(".scroll");
    if (box) box.dataset.keyboard = "";  // clicked: the arrows step again
  }, true);
  document.addEventListener("focusin", function (ev) {
    if (ev.target.classList.contains("scroll")) ev.target.dataset.keyboard = byPointer ? "" : "1";
    byPointer = false;
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Tab") byPointer = false;
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var t = ev.target, tag = t.tagName;
    // Form controls keep their own keys (the slider steps with the arrows by itself); a focused
    // button keeps Space and Enter; a scroll box (graph, program) focused from the keyboard
    // keeps the arrows, Home, End and Space to scroll (focused by a click, they step).
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") return;
    if (tag === "BUTTON" && (ev.key === " " || ev.key === "Enter")) return;
    var inGraph = t.classList && t.classList.contains("scroll") && t.dataset.keyboard === "1";
    var key = ev.key;
    if (key === "ArrowRight" && !inGraph) { stop(); goTo(cur + 1); }
    else if (key === "ArrowLeft" && !inGraph) { stop(); goTo(cur - 1); }
    else if (key === "Home" && !inGraph) { stop(); goTo(0); }
    else if (key === "End" && !inGraph) { stop(); goTo(last); }
    else if ((key === " " && !inGraph) || key === "p" || key === "P") { toggle(); }
    else return;
    ev.preventDefault();
  });

  // Fit the graph to its pane when that keeps its text at least 80% of its size.
  var box = $("graph-scroll"), svg = $("graph"), fit = $("b-fit");
  function setFit(on) {
    box.classList.toggle("fit", on);
    fit.setAttribute("aria-pressed", on ? "true" : "false");
  }
  fit.addEventListener("click", function () { setFit(!box.classList.contains("fit")); show(); });
  var scale = Math.min(box.clientWidth / svg.width.baseVal.value,
                       parseFloat(getComputedStyle(box).maxHeight) / svg.height.baseVal.value);
  setFit(scale >= 0.8 && scale < 1);

  var m = /step=(\d+)/.exec(location.hash);
  goTo(m ? +m[1] : 0);
  window.slpLesson = { goTo: goTo, step: function () { return cur; }, last: last };
})();
