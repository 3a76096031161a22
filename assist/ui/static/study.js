// The study's start page: lists the conditions (api/study), joins one (api/join) and opens the session's own page.
"use strict";

const $ = (id) => document.getElementById(id);

function say(text) {
  $("message").textContent = text;
  $("message").className = "error";
}

function showConditions(names) {
  const box = $("conditions");
  box.hidden = false;
  names.forEach((name, i) => {
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "condition";
    radio.value = name;
    radio.checked = i === 0;
    label.append(radio, " " + name);
    box.append(label, document.createElement("br"));
  });
}

async function join(event) {
  event.preventDefault();
  const body = { participant: $("participant").value.trim() };
  const chosen = document.querySelector("input[name=condition]:checked");
  if (chosen) body.condition = chosen.value;
  const response = await fetch("/api/join", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  const reply = await response.json();
  if (!response.ok) return say(reply.error || response.statusText);
  window.location.assign(reply.url);
}

async function start() {
  const response = await fetch("/api/study");
  const study = await response.json();
  $("slots").textContent = `${study.free} of ${study.max_sessions} sessions free`;
  if (study.conditions) showConditions(study.conditions);
  else $("assigned").hidden = false;
  $("join-form").addEventListener("submit", join);
}

start();
