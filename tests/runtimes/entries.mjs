// Run by run.mjs under each runtime: imports the package by name, as a user
// would, and prints the export names of its two entries as one JSON line,
// which must match what Node gets (the Node entry, not the browser one).

const main = await import("wasmsocket");
const component = await import("wasmsocket/component");
console.log(
  JSON.stringify({
    main: Object.keys(main).sort(),
    component: Object.keys(component).sort(),
  }),
);
