// The BMI helper: height and weight, metric or imperial, fill the form's BMI field.
// Progressive enhancement: without this script the helper stays hidden and the form works as is.
// Its inputs have no name, so only the BMI is sent (and stored).
(function () {
  "use strict";
  var helper = document.getElementById("bmi-helper");
  var bmiField = document.getElementById("id_bmi");
  if (!helper || !bmiField) { return; }
  var units = document.getElementById("bmi-units");
  var result = document.getElementById("bmi-helper-result");
  var use = document.getElementById("bmi-use");
  var current = null;

  function number(id) {
    var value = document.getElementById(id).value.trim().replace(",", ".");
    return value === "" ? NaN : Number(value);
  }

  // BMI = kg / m²; in imperial units 703 × lb / in². Rounded to one decimal, as the form shows it.
  function compute() {
    var bmi;
    if (units.value === "imperial") {
      var inches = number("bmi-height-ft") * 12 + (number("bmi-height-in") || 0);
      bmi = 703 * number("bmi-weight-lb") / (inches * inches);
    } else {
      var metres = number("bmi-height-cm") / 100;
      bmi = number("bmi-weight-kg") / (metres * metres);
    }
    return isFinite(bmi) && bmi > 0 ? Math.round(bmi * 10) / 10 : null;
  }

  function update() {
    current = compute();
    use.disabled = current === null;
    result.textContent = current === null
      ? helper.dataset.incomplete
      : helper.dataset.resultTemplate.replace("{bmi}", current.toFixed(1));
  }

  units.addEventListener("change", function () {
    helper.querySelectorAll(".bmi-units").forEach(function (group) {
      group.hidden = group.dataset.units !== units.value;
    });
    update();
  });
  helper.addEventListener("input", update);
  use.addEventListener("click", function () {
    if (current === null) { return; }
    bmiField.value = current.toFixed(1); // a machine-readable number: always a dot, never localised
    bmiField.dispatchEvent(new Event("input", { bubbles: true }));
    bmiField.focus();
  });
  helper.hidden = false;
})();
