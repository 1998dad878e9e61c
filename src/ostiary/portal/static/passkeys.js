// Passkeys on the tenant host (docs/sign-in.md). The page carries the
// WebAuthn options the portal made for it (a JSON block, never run as
// script); this hands them to the browser and posts the browser's answer in
// an ordinary form, so the portal's CSP (default-src 'none', script-src
// 'self', form-action 'self' ...) stays as it is: no fetch, nothing inline.
(function () {
  "use strict";

  function toBytes(b64url) {
    var b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buffer) {
    var bytes = new Uint8Array(buffer), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) { return Object.assign({}, d, { id: toBytes(d.id) }); });
  }

  function creationOptions(o) {
    return Object.assign({}, o, {
      challenge: toBytes(o.challenge),
      user: Object.assign({}, o.user, { id: toBytes(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials)
    });
  }

  function requestOptions(o) {
    return Object.assign({}, o, { challenge: toBytes(o.challenge), allowCredentials: descriptors(o.allowCredentials) });
  }

  function credentialJSON(cred) {
    var r = cred.response, response = { clientDataJSON: toB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toB64url(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toB64url(r.authenticatorData);
      response.signature = toB64url(r.signature);
      if (r.userHandle) { response.userHandle = toB64url(r.userHandle); }
    }
    return JSON.stringify({
      id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response: response,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}
    });
  }

  function optionsOf(form) {
    var block = document.getElementById(form.getAttribute("data-options"));
    return block ? JSON.parse(block.textContent) : null;
  }

  function show(box, message) {
    if (!box) { return; }
    box.textContent = message;
    box.hidden = !message;
  }

  // The page's own words for a failure, in its language (a JSON block the page carries: passkey_messages.html).
  var messages = (function () {
    var block = document.getElementById("passkey-messages");
    try { return block ? JSON.parse(block.textContent) : {}; } catch (e) { return {}; }
  })();

  function failure(err) {
    if (err && err.name === "NotAllowedError") { return messages.cancelled || "The passkey request was cancelled or timed out."; }
    if (err && err.name === "InvalidStateError") { return messages.registered || "This passkey is already registered."; }
    return (err && err.message) || messages.failed || "The passkey did not work.";
  }

  function send(form, opts, cred) {
    var typed = document.getElementById("login");
    if (form.elements.login && typed) { form.elements.login.value = typed.value; }
    form.elements.state.value = opts.state;
    form.elements.credential.value = credentialJSON(cred);
    form.submit();
  }

  if (!window.PublicKeyCredential) { return; }

  // Adding a passkey: the account page, or the second-factor set-up.
  var addForm = document.getElementById("passkey-add");
  if (addForm) {
    addForm.addEventListener("submit", function (event) {
      if (addForm.elements.credential.value) { return; }  // the answer is in: post it
      event.preventDefault();
      var box = document.getElementById("passkey-add-error"), opts = optionsOf(addForm);
      show(box, "");
      navigator.credentials.create({ publicKey: creationOptions(opts.publicKey) })
        .then(function (cred) { send(addForm, opts, cred); })
        .catch(function (err) { show(box, failure(err)); });
    });
  }

  // Signing in: a button (no name typed), and the browser's autofill.
  var signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    var boxIn = document.getElementById("passkey-sign-in-error"), optsIn = optionsOf(signIn), pending = null;
    var ask = function (mediation) {
      if (pending) { pending.abort(); }
      var controller = new AbortController(), request = { publicKey: requestOptions(optsIn.publicKey), signal: controller.signal };
      pending = controller;
      if (mediation) { request.mediation = mediation; }
      return navigator.credentials.get(request).then(function (cred) { send(signIn, optsIn, cred); });
    };
    signIn.hidden = false;
    signIn.addEventListener("submit", function (event) {
      event.preventDefault();
      show(boxIn, "");
      ask(null).catch(function (err) { if (err && err.name !== "AbortError") { show(boxIn, failure(err)); } });
    });
    // Not after a refusal: the page then waits for the person to choose again.
    if (PublicKeyCredential.isConditionalMediationAvailable && signIn.getAttribute("data-conditional") !== "off") {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) { return; }
        signIn.setAttribute("data-conditional", "started");
        ask("conditional").catch(function (err) {
          if (err && err.name !== "AbortError" && err.name !== "NotAllowedError") { show(boxIn, failure(err)); }
        });
      });
    }
  }

  // The second factor with a passkey.
  var second = document.getElementById("passkey-second-factor");
  if (second) {
    second.hidden = false;
    second.addEventListener("submit", function (event) {
      event.preventDefault();
      var box = document.getElementById("passkey-second-factor-error"), opts = optionsOf(second);
      show(box, "");
      navigator.credentials.get({ publicKey: requestOptions(opts.publicKey) })
        .then(function (cred) { send(second, opts, cred); })
        .catch(function (err) { show(box, failure(err)); });
    });
  }
})();
