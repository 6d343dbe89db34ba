// The page imports uPlot as the backend serves it, /dashboard/vendor/uPlot.esm.js (from
// node_modules/uplot/dist); its types are the package's own.
import uPlot from 'uplot';
export default uPlot;
