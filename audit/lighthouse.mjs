// Lighthouse 12.2.3 (accessibility and best practices) on the public pages, in Debian's Chromium.
//
//   node audit/lighthouse.mjs '[{"name": "form", "url": "http://...", "language": "en", "submit": false}, ...]'
//
// Prints one JSON line: per page, both scores (0-1) and the failing audits. A page with
// "submit": true is loaded, its form submitted empty (the form with errors is the answer to a
// POST, which a Lighthouse navigation cannot make) and then audited as a snapshot; the others are
// Lighthouse navigations. That is why this uses Lighthouse's Node API, with the same flags the
// CLI would get: CHROME_PATH (default /usr/bin/chromium) and LIGHTHOUSE_CHROME_FLAGS.
import puppeteer from 'puppeteer-core';
import {navigation, snapshot} from 'lighthouse';

const pages = JSON.parse(process.argv[2]);
const executablePath = process.env.CHROME_PATH || '/usr/bin/chromium';
const args = (process.env.LIGHTHOUSE_CHROME_FLAGS ||
  '--headless --no-sandbox --disable-gpu --disable-background-networking').split(/\s+/).filter(Boolean);
const categories = ['accessibility', 'best-practices'];

function summary(lhr) {
  const failing = [];
  for (const id of categories) {
    for (const ref of lhr.categories[id].auditRefs) {
      const audit = lhr.audits[ref.id];
      if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
        failing.push({category: id, id: ref.id, title: audit.title, score: audit.score});
      }
    }
  }
  return {
    accessibility: lhr.categories.accessibility.score,
    best_practices: lhr.categories['best-practices'].score,
    failing,
  };
}

const browser = await puppeteer.launch({executablePath, args, headless: true});
const results = [];
try {
  for (const spec of pages) {
    const page = await browser.newPage();
    const headers = {'Accept-Language': spec.language};
    let result;
    if (spec.submit) {
      await page.setExtraHTTPHeaders(headers);
      await page.goto(spec.url, {waitUntil: 'load'});
      await Promise.all([page.waitForNavigation({waitUntil: 'load'}), page.click('.prediction-form button[type=submit]')]);
      result = await snapshot(page, {config: {extends: 'lighthouse:default', settings: {onlyCategories: categories}}});
    } else {
      result = await navigation(page, spec.url, {
        config: {extends: 'lighthouse:default', settings: {onlyCategories: categories, extraHeaders: headers}},
      });
    }
    results.push({name: spec.name, language: spec.language, mode: spec.submit ? 'snapshot' : 'navigation', ...summary(result.lhr)});
    await page.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
