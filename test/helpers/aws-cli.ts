/** The AWS CLI v2 (botocore) from Debian's awscli package, a real client of the endpoint and the guard. */
import { existsSync } from 'node:fs';

export const AWS_CLI = '/usr/bin/aws';
/** A skip reason when it is not installed (.ci/run installs it). */
export const cliMissing = existsSync(AWS_CLI) ? false : `${AWS_CLI} (AWS CLI v2, botocore) is not installed: apt-get install awscli`;
