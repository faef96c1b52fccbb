// Data set picker: a grid of thumbnails; a click triggers "pick" with the name.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let grid = parentElement.querySelector(".pg-picker");
  if (!grid) {
    grid = document.createElement("div");
    grid.className = "pg-picker";
    parentElement.appendChild(grid);
  }
  grid.innerHTML = "";
  for (const item of data.items) {
    const button = document.createElement("button");
    button.className = "pg-pick" + (item.name === data.selected ? " selected" : "");
    button.title = item.title;
    button.setAttribute("aria-label", item.title);
    button.dataset.name = item.name;
    const img = document.createElement("img");
    img.src = item.png;
    img.alt = item.title;
    button.appendChild(img);
    button.onclick = () => setTriggerValue("pick", item.name);
    grid.appendChild(button);
  }
}
