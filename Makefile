# Maintenance tasks. The gateway itself needs none of this: `pip install .` ships the built console.

CONSOLE := proxy/surfaces/console

.PHONY: ui
# Re-copy the console's vendored front-end files from the npm packages pinned in
# $(CONSOLE)/assets/package-lock.json (bump a version there, then run `make ui`).
ui:
	cd $(CONSOLE)/assets && npm ci --ignore-scripts --no-audit --no-fund
	cp $(CONSOLE)/assets/node_modules/htmx.org/dist/htmx.min.js $(CONSOLE)/static/vendor/htmx.min.js
	cp $(CONSOLE)/assets/node_modules/htmx.org/LICENSE $(CONSOLE)/static/vendor/htmx.LICENSE.txt
	cp $(CONSOLE)/assets/node_modules/chart.js/dist/chart.umd.min.js $(CONSOLE)/static/vendor/chart.umd.min.js
	cp $(CONSOLE)/assets/node_modules/chart.js/LICENSE.md $(CONSOLE)/static/vendor/chart.js.LICENSE.txt
