package org.neuronscope.cli;

import org.junit.jupiter.api.Assumptions;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Renders a report in headless Chromium (Debian's {@code chromium} and {@code chromium-driver}, driven
 * by Selenium) and checks what a reader sees: every chart decoded and drawn at a readable size, no
 * table wider than the page (cells wrap instead of hiding columns), no horizontal scrolling of the
 * page, every link pointing at a file (or a directory of raw files) that exists, and no error in the browser's console, at a
 * desktop and at a narrow width. A screenshot of each is left in {@code target/} for a human.
 *
 * <p>Without the browser the check is skipped, unless {@code NEURONSCOPE_BROWSER_REQUIRED=1} (set by
 * {@code .ci/run} when it could install the packages), which makes a missing browser a failure.
 */
final class RenderedReport {
    static final Path CHROMIUM = Path.of(System.getProperty("neuronscope.chromium", "/usr/bin/chromium"));
    static final Path CHROMEDRIVER = Path.of(System.getProperty("neuronscope.chromedriver", "/usr/bin/chromedriver"));

    /** Selenium warns that it has no DevTools binding for this Chromium version; the check needs none. */
    private static final java.util.logging.Logger CDP_LOG = java.util.logging.Logger.getLogger("org.openqa.selenium.devtools");

    static {
        CDP_LOG.setLevel(Level.SEVERE);
    }

    private RenderedReport() {
    }

    /** What the page showed at one window width. */
    record View(int width, int images, int tables, List<String> links) {
    }

    /** Skips the calling test when the browser is missing (fails it when CI requires the browser). */
    static void requireBrowser() {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(CHROMEDRIVER)) {
            assertTrue(!"1".equals(System.getenv("NEURONSCOPE_BROWSER_REQUIRED")),
                    "NEURONSCOPE_BROWSER_REQUIRED=1 but " + CHROMIUM + " or " + CHROMEDRIVER + " is missing");
            Assumptions.abort("no headless browser (" + CHROMIUM + ", " + CHROMEDRIVER + "): rendered report not checked");
        }
    }

    static List<View> check(Path report) throws Exception {
        requireBrowser();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--hide-scrollbars");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        ChromeDriver driver = new ChromeDriver(service, options);
        List<View> views = new ArrayList<>();
        try {
            for (int width : new int[] {1280, 640}) {
                driver.manage().window().setSize(new Dimension(width, 900));
                driver.get(report.toUri().toString());
                views.add(inspect(driver, report, width));
                Path shot = Path.of("target", "report-" + width + ".png");
                Files.createDirectories(shot.getParent());
                Files.copy(((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE).toPath(), shot, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            driver.quit();
        }
        return views;
    }

    @SuppressWarnings("unchecked")
    private static View inspect(ChromeDriver driver, Path report, int width) {
        JavascriptExecutor js = driver;
        // get() can return while images still load (a loaded machine, the same URL again): wait for them, then check
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!"complete".equals(js.executeScript("return document.readyState")) && System.nanoTime() < deadline) {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        assertEquals("complete", js.executeScript("return document.readyState"), "page loaded");
        Map<String, Object> page = (Map<String, Object>) js.executeScript("""
                const imgs = [...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0,
                    shown: Math.round(i.getBoundingClientRect().width)}));
                const tables = [...document.querySelectorAll('table')].map(t => ({wide: t.scrollWidth, room: t.parentElement.clientWidth,
                    head: t.rows.length ? t.rows[0].innerText.slice(0, 60) : ''}));
                const links = [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
                return {imgs, tables, links, page: document.documentElement.scrollWidth, view: document.documentElement.clientWidth};
                """);
        List<Map<String, Object>> imgs = (List<Map<String, Object>>) page.get("imgs");
        assertTrue(!imgs.isEmpty(), "the report has charts");
        int minShown = Math.min(300, width / 2);
        for (Map<String, Object> img : imgs) {
            assertTrue((Boolean) img.get("ok"), width + " px: chart not decoded: " + img.get("src"));
            assertTrue(((Number) img.get("shown")).intValue() >= minShown,
                    width + " px: chart drawn only " + img.get("shown") + " px wide: " + img.get("src"));
        }
        List<Map<String, Object>> tables = (List<Map<String, Object>>) page.get("tables");
        for (Map<String, Object> t : tables) {
            int wide = ((Number) t.get("wide")).intValue();
            int room = ((Number) t.get("room")).intValue();
            assertTrue(wide <= room + 1, width + " px: table wider than the page (" + wide + " > " + room + " px), columns hidden: " + t.get("head"));
        }
        int pageWidth = ((Number) page.get("page")).intValue();
        int view = ((Number) page.get("view")).intValue();
        assertTrue(pageWidth <= view + 1, width + " px: the page scrolls sideways (" + pageWidth + " > " + view + " px)");
        List<String> links = (List<String>) page.get("links");
        Path dir = report.toAbsolutePath().getParent();
        for (String href : links) {
            assertTrue(!href.contains("://"), "links stay inside the report's directory tree: " + href);
            Path target = dir.resolve(href).normalize();
            assertTrue(Files.isRegularFile(target) || Files.isDirectory(target), width + " px: link to a missing file: " + href);
        }
        List<String> errors = new ArrayList<>();
        for (LogEntry e : driver.manage().logs().get(LogType.BROWSER)) {
            if (e.getLevel().intValue() >= Level.WARNING.intValue()) {
                errors.add(e.getMessage());
            }
        }
        assertTrue(errors.isEmpty(), width + " px: browser console: " + errors);
        return new View(width, imgs.size(), tables.size(), links);
    }
}
