/**
 * The bodies IMDS itself answers with, for the answers the guard makes on IMDS's behalf in
 * per-caller mode (an unknown role is a 404 exactly like IMDS's, a missing slash a 301).
 */

export const IMDS_NOT_FOUND_BODY = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>404 - Not Found</title>
 </head>
 <body>
  <h1>404 - Not Found</h1>
 </body>
</html>
`;

export const IMDS_MOVED_BODY = `<?xml version="1.0" encoding="iso-8859-1"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title>301 - Moved Permanently</title>
 </head>
 <body>
  <h1>301 - Moved Permanently</h1>
 </body>
</html>
`;

export const IMDS_HTML_TYPE = 'text/html';
export const IMDS_TEXT_TYPE = 'text/plain';
