# syntax=docker/dockerfile:1
# regcred-operator: a small image that runs as non-root with a read-only root filesystem.
#   docker build -t regcred-operator:latest .
ARG NODE_IMAGE=node:22-bookworm-slim

# Compile TypeScript to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only. The devDependency `node` (Node for scripts and tests on a machine with
# an older system Node) is left out: the base image provides Node. No production dependency needs an
# install script.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# npm, corepack and yarn are not needed at run time; removing them shrinks the image and its attack
# surface.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /opt/yarn-* \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY crds ./crds
# Numeric, so that Kubernetes can check runAsNonRoot without a passwd lookup.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["run"]
