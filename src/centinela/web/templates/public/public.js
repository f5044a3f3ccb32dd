// Public pages of Centinela: cascading place selects, "use my location", chat form reset.
// Served from /reportar/public.js (the CSP allows only same-origin scripts, no inline code).
(function () {
  function resetSelect(id) {
    var el = document.getElementById(id);
    if (el) { el.selectedIndex = 0; while (el.options.length > 1) { el.remove(1); } }
  }
  document.addEventListener('change', function (e) {
    if (e.target.id === 'department') { resetSelect('ubigeo'); }
  });
  document.addEventListener('click', function (e) {
    if (e.target.id !== 'locate' || !navigator.geolocation) { return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      // Rounded here already; the server snaps again to a ~500 m grid before storage.
      document.getElementById('latitude').value = pos.coords.latitude.toFixed(3);
      document.getElementById('longitude').value = pos.coords.longitude.toFixed(3);
    });
  });
  // A rate-limited chat turn (429) still carries a message with the emergency numbers: show it.
  document.addEventListener('htmx:beforeSwap', function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 429) { e.detail.shouldSwap = true; e.detail.isError = false; }
  });
  document.addEventListener('htmx:afterRequest', function (e) {
    var form = e.detail.elt;
    if (form && form.id === 'ask') {
      form.reset();
      var chat = document.getElementById('chat');
      if (chat) { chat.lastElementChild && chat.lastElementChild.scrollIntoView({block: 'nearest'}); }
    }
  });
})();
