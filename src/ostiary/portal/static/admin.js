// Copy buttons: <button data-copy="ID"> copies the text of element ID and says so
// in the page's polite live region. No inline script: the CSP allows only this file.
(function () {
  "use strict";
  function announce(text) {
    var status = document.getElementById("copy-status");
    if (status) { status.textContent = ""; setTimeout(function () { status.textContent = text; }, 30); }
  }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent;
    var copying = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); })
      : fallbackCopy(text);
    copying.then(function () {
      button.textContent = "Copied";
      button.setAttribute("data-copied", "yes");
      announce("Copied to the clipboard.");
      setTimeout(function () { button.textContent = "Copy"; }, 2000);
    }, function () {
      announce("Copying failed: select the text and copy it by hand.");
    });
  });
})();

// A refused form shows its problems at its own top: move focus (and the view) there.
(function () {
  "use strict";
  var errors = document.getElementById("form-errors");
  if (errors) { errors.focus(); errors.scrollIntoView({block: "center"}); }
})();
